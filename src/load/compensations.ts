/**
 * Undo steps registered as side effects happen; on failure they run newest first. A failing undo
 * does not stop the others: each is attempted and its failure reported.
 */
export class Compensations {
  private readonly steps: { name: string; undo: () => Promise<void> }[] = [];

  register(name: string, undo: () => Promise<void>): void {
    this.steps.push({ name, undo });
  }

  /** Forgets a step whose effect has been made permanent or cleaned up normally. */
  settle(name: string): void {
    const i = this.steps.findIndex((s) => s.name === name);
    if (i >= 0) this.steps.splice(i, 1);
  }

  async runAll(onFailure: (name: string, error: unknown) => void): Promise<void> {
    while (this.steps.length > 0) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
      } catch (error) {
        onFailure(step.name, error);
      }
    }
  }
}
