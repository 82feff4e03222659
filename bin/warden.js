#!/usr/bin/env node
// `warden exec` runs often (once per sandboxed command): it loads only its own modules.
const entry = process.argv[2] === "exec" ? "../dist/cli/exec-main.js" : "../dist/cli/main.js";
const { main } = await import(entry);

main(process.argv).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`warden: ${error?.message ?? error}\n`);
    process.exitCode = 2;
  },
);
