// The paging iterators: one concern per file, the public names listed here.
export { exportPages } from './export-pages';
export type { ExportBatch, ExportPagesOptions } from './export-pages';
export { paginate, paginatePages } from './list-pages';
export type { ListPage, PaginateOptions } from './list-pages';
export { reportRows } from './report-rows';
export type { ReportParameter, ReportRow, ReportRowsOptions } from './report-rows';
