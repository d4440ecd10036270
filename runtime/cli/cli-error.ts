// CLI-level failures: what the command line itself refuses (usage, options, files, local
// state), as opposed to what the protocol reports (a hub's refusal, a signature that fails,
// an unreachable peer), which keeps its FleetError code. Printed without a protocol code:
//   fleet: <message>                     (stderr; exit 2 for usage errors, 1 otherwise)
//   {"ok":false,"error":{"kind":"usage"|"cli","message":...}}   (with --json, on stdout)
export class CliError extends Error {
  override readonly name = "CliError";
  constructor(
    message: string,
    /** "usage": the command line was wrong (exit 2); "cli": it was right but could not be done (exit 1). */
    readonly kind: "usage" | "cli" = "cli",
  ) {
    super(message);
  }

  get exitCode(): 1 | 2 {
    return this.kind === "usage" ? 2 : 1;
  }
}

export const usageError = (message: string) => new CliError(message, "usage");
