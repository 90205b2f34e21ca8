/** An answer other than success: its HTTP status, a stable machine-readable code, and a message for people. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const badRequest = (field: string, message: string) =>
  new ApiError(400, 'invalid_option', `${field}: ${message}`);
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
