/* Option helpers shared by the subcommands. */
#include "app.h"
#include <stdio.h>
#include <string.h>

PetscErrorCode AppOptionsGetSize3(const char *opt, const char *help, ptrdiff_t n[3], PetscBool *set)
{
  PetscInt v[3] = {0, 0, 0}, cnt = 3;
  char     txt[64];

  PetscFunctionBegin;
  (void)help;
  PetscCall(PetscOptionsGetIntArray(NULL, NULL, opt, v, &cnt, set));
  if (*set) {
    PetscCheck(cnt == 3 || cnt == 1, PETSC_COMM_WORLD, PD_ERR_INPUT, "%s takes z,y,x (three sizes) or one size for all axes", opt);
    for (int d = 0; d < 3; d++) {
      n[d] = v[cnt == 1 ? 0 : d];
      PetscCheck(n[d] >= 1, PETSC_COMM_WORLD, PD_ERR_INPUT, "%s: sizes must be positive", opt);
    }
  }
  snprintf(txt, sizeof(txt), "%td,%td,%td", n[0], n[1], n[2]);
  (void)txt;
  PetscFunctionReturn(0);
}

PetscErrorCode AppOptionsString(char **s)
{
  char *all;

  PetscFunctionBegin;
  PetscCall(PetscOptionsGetAll(NULL, &all));
  *s = all;
  PetscFunctionReturn(0);
}
