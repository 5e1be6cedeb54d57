import { readFileSync } from 'node:fs';

/** The package's version, from package.json (the CLI's --version, the OpenAPI document's info). */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}
