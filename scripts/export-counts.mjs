// Prints the exported symbols per package entry (values and types), read from
// the built declaration files with the TypeScript compiler API.
import ts from 'typescript';

const dir = process.argv[2] ?? 'dist';
const entries = ['index', 'testing/index', 'stdio/index', 'redis/index'];
const program = ts.createProgram(
  entries.map((e) => `${dir}/${e}.d.ts`),
  { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, skipLibCheck: true },
);
const checker = program.getTypeChecker();
for (const entry of entries) {
  const file = program.getSourceFile(`${dir}/${entry}.d.ts`);
  const symbol = file && checker.getSymbolAtLocation(file);
  const exports = symbol ? checker.getExportsOfModule(symbol) : [];
  const values = exports.filter((s) => {
    const target = s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s;
    return (target.flags & ts.SymbolFlags.Value) !== 0;
  });
  console.log(`${entry}: ${exports.length} exports (${values.length} values)`);
}
