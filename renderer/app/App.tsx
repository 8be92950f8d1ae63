/**
 * The console's frame: the brand, the navigation, the language switch, the state of the page's own link to the
 * center, and the screen the route names.
 */
import type { ReactNode } from 'react';
import { LANGUAGES, isLanguage, type Language } from '../i18n/index.js';
import { useBranding, useConsole, useServices, useT } from './context.js';
import { routeHref, type Route } from './route.js';
import { useRoute } from './use-route.js';
import { ClusterView } from './screens/ClusterView.js';
import { Config } from './screens/Config.js';
import { Events } from './screens/Events.js';
import { Mirrors } from './screens/Mirrors.js';
import { Overview } from './screens/Overview.js';
import { Wizard } from './screens/Wizard.js';

export type CenterLinkState = 'connecting' | 'open' | 'reconnecting' | 'refused';

const LANGUAGE_NAMES: Readonly<Record<Language, string>> = { en: 'English', 'zh-CN': '简体中文' };

export function App({ link, linkMessage }: { readonly link?: CenterLinkState; readonly linkMessage?: string }): ReactNode {
  const route = useRoute();
  return (
    <div className="app">
      <Header route={route} />
      <CenterBanner link={link ?? 'open'} message={linkMessage} />
      <main>{screen(route)}</main>
    </div>
  );
}

function screen(route: Route): ReactNode {
  switch (route.screen) {
    case 'overview': return <Overview />;
    case 'cluster': return <ClusterView cluster={route.cluster} />;
    case 'mirrors': return <Mirrors cluster={route.cluster} />;
    case 'events': return <Events {...(route.cluster === undefined ? {} : { cluster: route.cluster })} />;
    case 'config': return <Config cluster={route.cluster} />;
    case 'wizard': return <Wizard />;
  }
}

function Header({ route }: { readonly route: Route }): ReactNode {
  const t = useT();
  const branding = useBranding();
  const { store } = useServices();
  const language = useConsole((s) => s.language);
  const cluster = 'cluster' in route ? route.cluster : undefined;
  const link = (r: Route, label: string, id: string): ReactNode => (
    <a href={routeHref(r)} className={routeHref(r) === routeHref(route) ? 'current' : undefined} data-testid={`nav-${id}`}>{label}</a>
  );
  return (
    <header className="top">
      <a className="brand" href="#/"><img src={branding.logo} alt="" width={28} height={28} /><span data-testid="product-name">{branding.productName}</span></a>
      <nav>
        {link({ screen: 'overview' }, t('nav.overview'), 'overview')}
        {cluster !== undefined && link({ screen: 'cluster', cluster }, `${t('nav.cluster')}: ${cluster}`, 'cluster')}
        {cluster !== undefined && link({ screen: 'mirrors', cluster }, t('nav.mirrors'), 'mirrors')}
        {cluster !== undefined && link({ screen: 'config', cluster }, t('nav.config'), 'config')}
        {link(cluster !== undefined ? { screen: 'events', cluster } : { screen: 'events' }, t('nav.events'), 'events')}
        {link({ screen: 'wizard' }, t('nav.wizard'), 'wizard')}
      </nav>
      <label className="language">
        <span>{t('nav.language')}</span>
        <select value={language} data-testid="language-switch" onChange={(e) => {
          const l = e.target.value;
          if (isLanguage(l)) store.getState().setLanguage(l);
        }}>
          {LANGUAGES.map((l) => <option key={l} value={l}>{LANGUAGE_NAMES[l]}</option>)}
        </select>
      </label>
    </header>
  );
}

function CenterBanner({ link, message }: { readonly link: CenterLinkState; readonly message: string | undefined }): ReactNode {
  const t = useT();
  const loadError = useConsole((s) => s.loadError);
  const text = link === 'connecting' ? t('center.connecting')
    : link === 'reconnecting' ? t('center.reconnecting')
      : link === 'refused' ? t('center.refused', { message: message ?? '' })
        : loadError !== undefined ? t('app.loadFailed', { message: `${loadError.code}: ${loadError.message}` }) : undefined;
  if (text === undefined) return null;
  return <div className={`banner ${link === 'refused' || loadError !== undefined ? 'critical' : 'warning'}`} role="alert" data-testid="center-banner">{text}</div>;
}
