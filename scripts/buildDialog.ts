/** `npm run build:dialog`: bundles the Import users dialog's page into dist/dialogs/ (run by build, start, test, playground). */
import { DIALOG_BUILD_DIR } from '../bot/dialogs/assets';
import { writeDialogAssets } from './dialogBundle';

writeDialogAssets()
  .then(({ js, css }) => console.log(`import dialog built in ${DIALOG_BUILD_DIR} (script ${js.length} bytes, style ${css.length} bytes)`))
  .catch((err) => {
    console.error('import dialog build failed:', err instanceof Error ? err.message : err);
    process.exit(1);
  });
