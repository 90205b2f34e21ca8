/**
 * Parquet fixtures written by DuckDB (another implementation than the reader under test): a query
 * becomes a file with the given row-group size and compression codec.
 */
import { DuckDBInstance } from '@duckdb/node-api';

export async function writeParquet(
  path: string,
  query: string,
  options: { rowGroupSize?: number; compression?: 'snappy' | 'gzip' | 'zstd' | 'uncompressed' } = {},
): Promise<void> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    const target = path.replaceAll("'", "''");
    await connection.run(
      `COPY (${query}) TO '${target}' (FORMAT parquet, COMPRESSION ${options.compression ?? 'snappy'}, ROW_GROUP_SIZE ${options.rowGroupSize ?? 122880})`,
    );
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}
