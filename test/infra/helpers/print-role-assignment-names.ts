/**
 * Runs the whole program once under mocks and prints each role assignment's logical name
 * and Azure name as JSON; role-assignment-names.test.ts runs it in two processes.
 */
import { runProgram } from './program';
import { ofType } from './pulumi-mocks';

void runProgram().then(({ resources }) => {
  const names = Object.fromEntries(
    ofType('authorization:RoleAssignment', resources).map((r) => [
      r.name,
      r.inputs.roleAssignmentName,
    ]),
  );
  process.stdout.write(JSON.stringify(names));
});
