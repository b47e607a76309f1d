"""The FastAPI service that serves a trained denoiser to artists: `mcdenoise serve`.

    config.py     ServeConfig: one field per `mcdenoise serve` flag
    app.py        create_app(config): routes, error handling, the request's life
    serve.py      run_serve(config): uvicorn
    auth.py       API keys (constant-time comparison, never logged)
    limits.py     body size while streaming, frame size and channel types from the EXR header
    upload.py     multipart body -> temporary files and options, strictly
    inputs.py     uploaded EXRs -> the frame to denoise, with errors that name the problem
    queue.py      bounded admission and the inference worker thread(s), batching
    jobs.py       the job store: asynchronous jobs' state and files, within bounds
    job_routes.py the job API: submit, status, result, layers, pixels, cancel
    pixels.py     a job's layers saved as float32 arrays, streamed for the web page
    inference.py  which queued frames share one forward pass of infer.denoise
    model_set.py  the served model files, the default model, /v1/models
    monitoring.py Prometheus metrics and their middleware
    logs.py       request ids, text or JSON log lines
    preview.py    downsampled linear previews for the web page
    errors.py     the JSON error shape
    static/       the web page (no external resources)
"""
