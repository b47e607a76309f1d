// Flamenco 3 job type: render Noise2Noise training pairs on the workers (`mcdenoise
// dataset`, a chunk of scene instances per task, each into its own part folder), a
// validation set with references, then `mcdenoise train` on one worker once both are done.
// Copy into flamenco-manager's `scripts/` folder. Every task is safe to requeue: the dataset
// command skips what a part already holds and the trainer resumes from its checkpoint.

const JOB_TYPE = {
    label: "mcdenoise train",
    description: "Render training pairs on the farm, then train the mcdenoise denoiser",
    settings: [
        { key: "data_dir", type: "string", subtype: "dir_path", required: true,
          description: "Shared folder for the rendered pairs" },
        { key: "run_dir", type: "string", subtype: "dir_path", required: true,
          description: "Training run folder (checkpoint, logs, model.safetensors)" },
        { key: "families", type: "string", default: "interior,hall,cornell,objects,lights,detail",
          description: "Scene families to render, comma-separated" },
        { key: "scenes", type: "string", default: "0-23",
          description: "Instance indices of each family, such as 0-95" },
        { key: "chunk_size", type: "int32", default: 4, description: "Instances per render task" },
        { key: "val_scenes", type: "string", default: "interior:8002-8003,cornell:8001-8002",
          description: "Validation scenes (rendered with references)" },
        { key: "spp", type: "int32", default: 64 },
        { key: "reference_spp", type: "int32", default: 1024 },
        { key: "size", type: "int32", default: 128, description: "Render width and height" },
        { key: "minutes", type: "float", default: 60, description: "Training budget in minutes" },
        { key: "train_args", type: "string", default: "",
          description: "More train flags, separated by spaces" },
        { key: "mcdenoise", type: "string", default: "mcdenoise",
          description: "The mcdenoise command on the workers" },
    ],
};

function compileJob(job) {
    const s = job.settings;
    const size = ["--spp", `${s.spp}`, "--width", `${s.size}`, "--height", `${s.size}`];
    const renders = [];
    for (const chunk of frameChunker(s.scenes, s.chunk_size)) {
        // A chunk is A-B, or a single index; every family gets the same instances.
        const spec = s.families.split(",").map((family) => `${family}:${chunk}`).join(",");
        const task = author.Task(`pairs-${chunk}`, "misc");
        task.addCommand(author.Command("exec", { exe: s.mcdenoise, args: [
            "dataset", "-o", `${s.data_dir}/part-${chunk}`, "--scenes", spec, ...size] }));
        job.addTask(task);
        renders.push(task);
    }
    const validation = author.Task("validation", "misc");
    validation.addCommand(author.Command("exec", { exe: s.mcdenoise, args: [
        "dataset", "-o", `${s.data_dir}/validation`, "--scenes", s.val_scenes,
        "--reference-spp", `${s.reference_spp}`, ...size] }));
    job.addTask(validation);
    renders.push(validation);

    const train = author.Task("train", "misc");
    train.addCommand(author.Command("exec", { exe: s.mcdenoise, args: [
        "train", "--spp", `${s.spp}`, "--data", s.data_dir, "--val-data", `${s.data_dir}/validation`,
        "-o", s.run_dir, "--minutes", `${s.minutes}`, "--resume",
        ...s.train_args.split(" ").filter((word) => word.length > 0)] }));
    for (const task of renders) {
        train.addDependency(task);
    }
    job.addTask(train);
}
