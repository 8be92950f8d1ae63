/**
 * The center's SecretCipher in the Electron shell: Electron's safeStorage, i.e. the OS keychain (DPAPI on Windows,
 * the Keychain on macOS, libsecret or KWallet on Linux), so the key is tied to the user's login and not kept
 * next to the data. Only type-checked here (Electron's binary is not installed in CI).
 */
import { safeStorage } from 'electron';
import type { SecretCipher } from '../core/secret-cipher.js';

export class SafeStorageCipher implements SecretCipher {
  readonly name = 'electron-safe-storage';

  /**
   * On Linux without a keyring, safeStorage falls back to "basic_text", a key hard-coded in Chromium: that is
   * clear text with extra steps, so it counts as unavailable.
   */
  isAvailable(): boolean {
    if (!safeStorage.isEncryptionAvailable()) return false;
    return process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text';
  }

  // The synchronous calls are deprecated in favour of the async ones, but the store seals within one write and
  // Electron 45 still provides them; SecretCipher stays synchronous like FileKeyCipher.
  encrypt(text: string): Buffer {
    return safeStorage.encryptString(text);
  }

  decrypt(sealed: Buffer): string {
    return safeStorage.decryptString(sealed);
  }
}
