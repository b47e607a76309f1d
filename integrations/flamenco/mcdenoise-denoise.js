// Flamenco 3 job type: denoise a frame range with `mcdenoise denoise`, a chunk of frames
// per task. Copy this file into the `scripts/` folder beside flamenco-manager and restart it;
// the job type then appears in the submission UI and the API as "mcdenoise-denoise".
// Each task runs `mcdenoise denoise IN --frames A-B -o OUT --skip-existing`, so a task that
// Flamenco requeues finishes what its last attempt did not.

const JOB_TYPE = {
    label: "mcdenoise denoise",
    description: "Denoise EXR frames with the mcdenoise Noise2Noise denoiser",
    settings: [
        { key: "input", type: "string", subtype: "file_path", required: true,
          description: "Input frame pattern: shot.####.exr, shot.%04d.exr or shot.@@@@.exr" },
        { key: "output_dir", type: "string", subtype: "dir_path", required: true,
          description: "Folder for the denoised frames (they keep the input file names)" },
        { key: "frames", type: "string", required: true,
          description: "Frame range, such as 1001-1100 or 1,5,9-12" },
        { key: "chunk_size", type: "int32", default: 10, description: "Frames per task" },
        { key: "model", type: "string", default: "",
          description: "Model file (empty for the shipped model)" },
        { key: "extra_args", type: "string", default: "",
          description: "More denoise flags, separated by spaces (such as --layers beauty,diffuse)" },
        { key: "mcdenoise", type: "string", default: "mcdenoise",
          description: "The mcdenoise command on the workers" },
    ],
};

function compileJob(job) {
    const settings = job.settings;
    for (const chunk of frameChunker(settings.frames, settings.chunk_size)) {
        const args = ["denoise", settings.input, "--frames", chunk, "-o", settings.output_dir,
                      "--skip-existing",
                      "--report", `${settings.output_dir}/mcdenoise-report-${chunk.replace(/[^0-9-]/g, "_")}.json`];
        if (settings.model) {
            args.push("--model", settings.model);
        }
        args.push(...settings.extra_args.split(" ").filter((word) => word.length > 0));
        const task = author.Task(`denoise-${chunk}`, "misc");
        task.addCommand(author.Command("exec", { exe: settings.mcdenoise, args: args }));
        job.addTask(task);
    }
}
