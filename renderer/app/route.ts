/**
 * The console's routes live in the URL's fragment (`#/clusters/prod/mirrors`), which works the same from a file://
 * page in Electron and from center:web, and survives a reload. Parsing is pure and total: an unknown fragment is
 * the overview.
 */
export type Route =
  | { readonly screen: 'overview' }
  | { readonly screen: 'cluster'; readonly cluster: string }
  | { readonly screen: 'mirrors'; readonly cluster: string }
  | { readonly screen: 'events'; readonly cluster?: string }
  | { readonly screen: 'config'; readonly cluster: string }
  | { readonly screen: 'wizard' };

export function parseRoute(hash: string): Route {
  let parts: string[];
  try {
    parts = hash.replace(/^#\/?/, '').split('/').filter((p) => p !== '').map(decodeURIComponent);
  } catch {
    return { screen: 'overview' }; // a malformed escape (a hand-edited address)
  }
  const [first, cluster, sub] = parts;
  if (first === 'wizard') return { screen: 'wizard' };
  if (first === 'events') return cluster === undefined ? { screen: 'events' } : { screen: 'events', cluster };
  if (first === 'clusters' && cluster !== undefined) {
    if (sub === 'mirrors') return { screen: 'mirrors', cluster };
    if (sub === 'config') return { screen: 'config', cluster };
    if (sub === 'events') return { screen: 'events', cluster };
    return { screen: 'cluster', cluster };
  }
  return { screen: 'overview' };
}

export function routeHref(route: Route): string {
  const c = (id: string): string => encodeURIComponent(id);
  switch (route.screen) {
    case 'overview': return '#/';
    case 'wizard': return '#/wizard';
    case 'cluster': return `#/clusters/${c(route.cluster)}`;
    case 'mirrors': return `#/clusters/${c(route.cluster)}/mirrors`;
    case 'config': return `#/clusters/${c(route.cluster)}/config`;
    case 'events': return route.cluster === undefined ? '#/events' : `#/clusters/${c(route.cluster)}/events`;
  }
}
