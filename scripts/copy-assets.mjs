// Copies non-TypeScript files that the server reads at run time (page assets) into dist/.
import { cpSync } from 'node:fs';

cpSync('src/web/assets', 'dist/web/assets', { recursive: true });
