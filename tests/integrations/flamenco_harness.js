// A stand-in for the part of Flamenco 3's job compiler that the mcdenoise job types use
// (author.Task, author.Command, task.addDependency, job.addTask, frameChunker), so that a
// test can compile a job type as the Manager would and run the commands a Worker would get.
// This is the test's own code, written from Flamenco's documentation, not Flamenco's.
//
//   node flamenco_harness.js JOB_TYPE.js '{"setting": "value", ...}'  -> tasks as JSON
"use strict";
const fs = require("fs");
const vm = require("vm");

function parseFrames(text) {
    const frames = [];
    for (const part of text.split(",")) {
        const [start, end] = part.trim().split("-").map((n) => parseInt(n, 10));
        for (let frame = start; frame <= (end === undefined ? start : end); frame++) {
            frames.push(frame);
        }
    }
    return frames;
}

// Chunks of `size` frames, each written as compactly as Flamenco does ("1-10", "12,14").
function frameChunker(text, size) {
    const frames = parseFrames(text);
    const chunks = [];
    for (let i = 0; i < frames.length; i += size) {
        const chunk = frames.slice(i, i + size);
        const runs = [];
        let first = chunk[0];
        for (let k = 1; k <= chunk.length; k++) {
            if (k === chunk.length || chunk[k] !== chunk[k - 1] + 1) {
                const last = chunk[k - 1];
                runs.push(first === last ? `${first}` : `${first}-${last}`);
                first = chunk[k];
            }
        }
        chunks.push(runs.join(","));
    }
    return chunks;
}

const author = {
    Task(name, type) {
        return { name, type, commands: [], dependencies: [],
                 addCommand(command) { this.commands.push(command); },
                 addDependency(task) { this.dependencies.push(task.name); } };
    },
    Command(type, parameters) { return { type, ...parameters }; },
};

const [script, settingsText] = process.argv.slice(2);
const context = vm.createContext({ author, frameChunker, console });
vm.runInContext(fs.readFileSync(script, "utf8")
                + "\nthis.JOB_TYPE = JOB_TYPE; this.compileJob = compileJob;", context);
const settings = {};
for (const setting of context.JOB_TYPE.settings) {
    if (setting.default !== undefined) settings[setting.key] = setting.default;
}
Object.assign(settings, JSON.parse(settingsText));
for (const setting of context.JOB_TYPE.settings) {
    if (setting.required && settings[setting.key] === undefined) {
        throw new Error(`setting ${setting.key} is required`);
    }
}
const job = { settings, tasks: [], addTask(task) { this.tasks.push(task); } };
context.compileJob(job);
process.stdout.write(JSON.stringify(job.tasks.map(
    (t) => ({ name: t.name, type: t.type, dependencies: t.dependencies, commands: t.commands }))));
