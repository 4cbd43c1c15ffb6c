export { createLogger, SECRET_PATHS } from './logger.js';
export type { Logger, LoggerOptions } from './logger.js';
