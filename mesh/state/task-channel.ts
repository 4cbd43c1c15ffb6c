/** The notice channel of task changes; the payload is the task id. */
export const TASK_CHANNEL = 'task';
