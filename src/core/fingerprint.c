/* Hash of the options that shape a result. */
#include <pdecon/core/fingerprint.h>
#include <string.h>

static PetscBool Listed(const char *name, const char *const list[])
{
  for (int i = 0; list && list[i]; i++)
    if (!strcmp(name, list[i])) return PETSC_TRUE;
  return PETSC_FALSE;
}

/* An option name: a dash and a letter (a value may be a negative number). */
static PetscBool IsName(const char *tok) { return (PetscBool)(tok && tok[0] == '-' && ((tok[1] >= 'a' && tok[1] <= 'z') || (tok[1] >= 'A' && tok[1] <= 'Z') || tok[1] == '_')); }

PetscErrorCode PdHashOptions(PdHash *h, const char *prefix, const char *const neutral[])
{
  char        *all, *tok, *next, *save = NULL;
  const size_t np = strlen(prefix);

  PetscFunctionBegin;
  /* "-name value -flag -name value ...": a flag has no value */
  PetscCall(PetscOptionsGetAll(NULL, &all));
  for (tok = strtok_r(all, " ", &save); tok; tok = next) {
    char *val = NULL;
    next      = strtok_r(NULL, " ", &save);
    if (next && !IsName(next)) {
      val  = next;
      next = strtok_r(NULL, " ", &save);
    }
    if (!IsName(tok) || strncmp(tok + 1, prefix, np) || Listed(tok + 1 + np, neutral)) continue;
    PdHashBytes(h, tok, strlen(tok));
    if (val) PdHashBytes(h, val, strlen(val));
  }
  PetscCall(PetscFree(all));
  PetscFunctionReturn(0);
}
