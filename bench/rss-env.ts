/** The variable through which the benchmark tells rss-hook.ts where to write the peak RSS. */
export const RSS_FILE_ENV = 'ETL_BENCH_RSS_FILE';
