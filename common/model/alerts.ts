// PLACEHOLDER until wt-alerts merges
export interface AlertRecord { readonly id: string; readonly at: number }
