/** Command-line helpers shared by the probemesh commands. */

/** A whole number option in [min, max], or an error that says which option and why. */
export function count(option: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) throw new Error(`${option} needs a whole number from ${min} to ${max}, not '${text}'`);
  return n;
}

/** Stops cleanly on Ctrl-C or SIGTERM. */
export function untilSignal(stop: () => Promise<void>): void {
  const onSignal = (sig: string) => {
    process.stderr.write(`\n${sig}: stopping …\n`);
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(err);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => onSignal('SIGINT'));
  process.once('SIGTERM', () => onSignal('SIGTERM'));
}
