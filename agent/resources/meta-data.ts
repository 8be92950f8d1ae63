/** Pieces of the OCF meta-data XML that every built-in resource kind describes the same way. */

interface OperationTimeouts {
  readonly startTimeout: number;
  readonly stopTimeout: number;
  readonly monitorTimeout: number;
  readonly monitorInterval: number;
}

/** The <actions> element: each operation with its configured timeout (and the monitor's interval). */
export function actionsXml(c: OperationTimeouts): string {
  return `  <actions>
    <action name="start" timeout="${c.startTimeout / 1000}s"/>
    <action name="stop" timeout="${c.stopTimeout / 1000}s"/>
    <action name="monitor" timeout="${c.monitorTimeout / 1000}s" interval="${c.monitorInterval / 1000}s"/>
    <action name="validate-all" timeout="${c.monitorTimeout / 1000}s"/>
    <action name="meta-data" timeout="5s"/>
  </actions>`;
}
