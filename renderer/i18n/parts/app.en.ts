/** English strings of the application frame and shared components (merged into ../en.ts). */
export const appEn = {
  'nav.overview': 'Clusters',
  'nav.events': 'Events and alerts',
  'nav.wizard': 'New cluster',
  'nav.cluster': 'Cluster',
  'nav.mirrors': 'Mirrors',
  'nav.config': 'Configuration',
  'nav.language': 'Language',
  'center.connecting': 'Connecting to the center…',
  'center.reconnecting': 'The connection to the center was lost; reconnecting…',
  'center.refused': 'The center refused this page: {message}',
  'action.confirm': 'Confirm',
  'action.cancel': 'Cancel',
  'action.running': 'Running…',
  'action.done': 'Done',
  'app.clusterNotFound': 'No cluster named {cluster}',
} as const;
