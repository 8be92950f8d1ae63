/** Simplified Chinese strings of the application frame: the same keys and placeholders as ./app.en.ts (checked at compile time). */
import type { appEn } from './app.en.js';

export const appZhCN = {
  'nav.overview': '集群',
  'nav.events': '事件与告警',
  'nav.wizard': '新建集群',
  'nav.cluster': '集群',
  'nav.mirrors': '镜像',
  'nav.config': '配置',
  'nav.language': '语言',
  'center.connecting': '正在连接监控中心…',
  'center.reconnecting': '与监控中心的连接已断开，正在重新连接…',
  'center.refused': '监控中心拒绝了此页面：{message}',
  'action.confirm': '确认',
  'action.cancel': '取消',
  'action.running': '正在执行…',
  'action.done': '完成',
  'app.clusterNotFound': '没有名为 {cluster} 的集群',
} as const satisfies { readonly [K in keyof typeof appEn]: string };
