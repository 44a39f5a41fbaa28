/** `vipctl import-keepalived FILE`: print the vipd YAML, report the rest on stderr. */
import type { Command } from 'commander';
import { formatImportDiagnostic, importKeepalived, type ImportExitCode } from '../config/keepalived/index.js';

export interface ImportOutput {
  readonly out: (text: string) => void;
  readonly err: (line: string) => void;
}

const processOutput: ImportOutput = {
  out: (text) => process.stdout.write(text),
  err: (line) => process.stderr.write(`${line}\n`),
};

export function runImportKeepalived(file: string, options: { configId?: string }, output: ImportOutput = processOutput): ImportExitCode {
  const result = importKeepalived(file, options.configId === undefined ? {} : { configId: options.configId });
  if (result.yaml !== undefined) output.out(result.yaml);
  for (const diagnostic of result.diagnostics) output.err(formatImportDiagnostic(diagnostic));
  return result.exitCode;
}

export function addImportKeepalivedCommand(program: Command): void {
  program
    .command('import-keepalived')
    .description('print the vipd YAML equivalent of a keepalived.conf (with its includes); stderr lists what was not converted')
    .argument('<file>', 'keepalived.conf')
    .option('--config-id <id>', 'keepalived config id (-i) that selects @id lines; without it only @^id lines apply')
    .addHelpText('after', '\nExit codes: 0 all converted, 1 partly converted (see stderr), 2 unreadable or nothing to convert.')
    .action((file: string, options: { configId?: string }) => {
      // exitCode rather than exit(): stdout may still be flushing to a pipe.
      process.exitCode = runImportKeepalived(file, options);
    });
}
