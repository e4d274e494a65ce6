// Entry of the upload parser thread: registers tsx (as api/bin/autopeft.js does), then runs the
// TypeScript module, whose worker side answers parse requests.
import { register } from 'tsx/esm/api';

register();
await import('./upload-thread.ts');
