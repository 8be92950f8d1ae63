/** A node's network interfaces and volumes from its inventory (each agent reports its own). */
import type { ReactNode } from 'react';
import type { NodeInventory } from '../../../common/model/index.js';
import { useT } from '../context.js';
import { formatBytes } from './format.js';

export function Inventory({ node, inventory }: { readonly node: string; readonly inventory: NodeInventory | null }): ReactNode {
  const t = useT();
  if (inventory === null) return <p className="muted" data-testid={`node-inventory-${node}`}>{t('cluster.inventory.none')}</p>;
  return (
    <div className="inventory" data-testid={`node-inventory-${node}`}>
      <h4>{t('cluster.nics')}</h4>
      <table data-testid={`node-nics-${node}`}>
        <thead><tr><th>{t('cluster.nic.name')}</th><th>{t('cluster.nic.link')}</th><th>{t('cluster.nic.addresses')}</th><th>{t('cluster.nic.speed')}</th></tr></thead>
        <tbody>
          {inventory.nics.map((nic) => {
            const link = !nic.up ? 'adminDown' : !nic.carrier ? 'noCarrier' : 'up';
            return (
              <tr key={nic.name} data-testid={`nic-${node}-${nic.name}`} data-state={link}>
                <td>{nic.name}{nic.mac !== undefined && <div className="muted">{nic.mac}</div>}</td>
                <td className={link === 'up' ? 'level-ok' : 'level-warning'}>{t(`cluster.nic.${link}`)}</td>
                <td>{nic.addresses.map((a) => `${a.address}/${a.prefix}`).join(', ')}</td>
                <td>{nic.speedMbps !== undefined ? t('cluster.nic.mbps', { speed: nic.speedMbps }) : ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
      <h4>{t('cluster.volumes')}</h4>
      <table data-testid={`node-volumes-${node}`}>
        <thead>
          <tr><th>{t('cluster.volume.mount')}</th><th>{t('cluster.volume.device')}</th><th>{t('cluster.volume.used')}</th>
            <th>{t('cluster.volume.free')}</th><th>{t('cluster.volume.health')}</th></tr>
        </thead>
        <tbody>
          {inventory.volumes.map((v) => (
            <tr key={v.mount} data-testid={`volume-${node}-${v.mount}`} data-health={v.health}>
              <td>{v.mount}{v.readOnly && <span className="muted"> ({t('cluster.volume.readOnly')})</span>}</td>
              <td>{v.device} <span className="muted">{v.fsType}</span></td>
              <td>{`${v.usedPercent}% / ${formatBytes(v.totalBytes)}`}</td>
              <td>{formatBytes(v.availableBytes)}</td>
              <td className={v.health === 'ok' ? 'level-ok' : v.health === 'unknown' ? 'level-unknown' : v.health === 'degraded' ? 'level-warning' : 'level-critical'}>
                {t(`cluster.volume.${v.health}`)}
                {v.healthReasons.length > 0 && <div className="muted">{v.healthReasons.join('; ')}</div>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {inventory.faults.length > 0 && <p className="level-warning">{t('cluster.inventory.faults', { faults: inventory.faults.join('; ') })}</p>}
    </div>
  );
}
