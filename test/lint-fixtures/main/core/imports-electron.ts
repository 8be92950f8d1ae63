import { ipcMain } from 'electron';
export const x = ipcMain;
