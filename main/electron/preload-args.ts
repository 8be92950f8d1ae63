/** The argument by which main hands the sandboxed preload the contract's channel names (it cannot import them). */
export const CHANNELS_ARG = '--vigil-ipc-channels=';
