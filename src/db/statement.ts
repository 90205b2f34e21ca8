/** A statement as pure builders return it: text (identifiers quoted by quote.ts) and its parameters. */
export interface Statement {
  text: string;
  values: unknown[];
}
