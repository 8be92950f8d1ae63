/** The console's Simplified Chinese strings: the keys and placeholders must match the English dictionary exactly (checked at compile time in ./index.ts). */
import type { MessageKey } from './en.js';
import { appZhCN } from './parts/app.zh-CN.js';
import { overviewZhCN } from './parts/overview.zh-CN.js';
import { clusterZhCN } from './parts/cluster.zh-CN.js';
import { mirrorsZhCN } from './parts/mirrors.zh-CN.js';
import { eventsZhCN } from './parts/events.zh-CN.js';
import { configZhCN } from './parts/config.zh-CN.js';

export const zhCN = {
  ...appZhCN, ...overviewZhCN, ...clusterZhCN, ...mirrorsZhCN, ...eventsZhCN, ...configZhCN,
  'app.loading': '正在加载集群…',
  'app.loadFailed': '无法加载集群：{message}',

  'connection.idle': '未连接',
  'connection.connecting': '正在连接',
  'connection.connected': '已连接',
  'connection.reconnecting': '正在重新连接',
  'connection.refused': '连接被拒绝',
  'connection.closed': '已关闭',

  'node.up': '运行中',
  'node.down': '已宕机',
  'node.local': '本节点',

  'link.up': '正常',
  'link.down': '中断',
  'link.kind.udp': 'UDP',
  'link.kind.tcp': 'TCP',
  'link.kind.serial': '串口',

  'mirror.in-sync': '已同步',
  'mirror.lagging': '同步滞后',
  'mirror.resyncing': '正在重新同步',
  'mirror.paused': '已暂停',
  'mirror.disconnected': '已断开',
  'mirror.diverged': '数据分叉',
  'mirror.inconsistent': '数据不一致',
  'mirror.idle': '空闲',

  'resource.unknown': '未知',
  'resource.stopped': '已停止',
  'resource.starting': '正在启动',
  'resource.running': '运行中',
  'resource.stopping': '正在停止',
  'resource.failed': '故障',
  'resource.stop_failed': '停止失败',

  'role.source': '源端',
  'role.target': '目标端',
  'role.viewer': '查看者',
  'role.operator': '操作员',
  'role.admin': '管理员',

  'severity.info': '信息',
  'severity.warning': '警告',
  'severity.critical': '严重',

  'health.ok': '健康',
  'health.warning': '降级',
  'health.critical': '严重故障',
  'health.unknown': '未知',

  'issue.unreachable': '监控中心无法连接节点 {node}（{state}）',
  'issue.noData': '集群中尚无节点报告状态',
  'issue.nodeDown': '节点 {node} 已宕机',
  'issue.linkDown': '节点 {node} 到 {peer} 的心跳链路 {link} 已中断',
  'issue.resourceFailed': '资源 {resource}（{group}）在节点 {node} 上故障',
  'issue.mirrorNotInSync': '节点 {node} 上的镜像 {mirror} 状态为{state}',
  'issue.criticalAlert': '节点 {node} 上有未确认的严重告警：{message}',
  'issue.fault': '节点 {node} 报告了故障',
} as const satisfies { readonly [K in MessageKey]: string };
