/** The environment PATH every program we run gets, whatever the agent's own environment holds. */
export const SANE_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
