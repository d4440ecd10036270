#!/usr/bin/env node
// The `fleet` command: registers tsx so the TypeScript runtime loads as is, then runs the CLI.
import { register } from "tsx/esm/api";

register();
await import("../runtime/cli/main.ts");
