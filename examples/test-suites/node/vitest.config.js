import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // One Parlor for the whole run; each test gets its own sandbox (parlor.js).
    globalSetup: './parlor-server.js',
  },
});
