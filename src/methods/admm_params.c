/* Parameters of the ADMM method (admm.c has the equations): defaults, the public setters and
   getters of admm.h, options and view. */
#include "methods/admm_impl.h"
#include <math.h>

PetscErrorCode PdADMMCreate(PdDecon d)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(PetscNew(&c));
  c->rho     = 0.25;
  c->lambda  = 5e-4;
  c->cg_its  = 1;
  c->pc      = PETSC_TRUE;
  c->mu      = 10;
  c->tau     = 2;
  c->beta    = 1e-3;
  c->primal  = NAN;
  c->dual    = NAN;
  c->xres    = NAN;
  c->rho_cur = c->rho;
  d->mctx    = c;
  PetscFunctionReturn(0);
}

static PetscErrorCode Ctx(PdDecon d, ADMMCtx **c)
{
  PetscFunctionBegin;
  PetscCheck(d->ops == &PdMethod_ADMM && d->mctx, d->comm, PD_ERR_INPUT, "method %s is not admm: select it with PdDeconSetMethod(d, \"admm\") first", d->ops->name);
  *c = (ADMMCtx *)d->mctx;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMSetRho(PdDecon d, double rho)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  PetscCheck(rho > 0 && isfinite(rho), d->comm, PD_ERR_INPUT, "admm: rho must be positive and finite (got %.6g)", rho);
  c->rho = c->rho_cur = rho;
  d->msetup          = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMSetLambda(PdDecon d, double lambda)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  PetscCheck(lambda >= 0 && isfinite(lambda), d->comm, PD_ERR_INPUT, "admm: lambda must be >= 0 and finite (got %.6g)", lambda);
  c->lambda = lambda;
  d->msetup = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMSetPriorWeight(PdDecon d, double beta)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  PetscCheck(beta > 0 && isfinite(beta), d->comm, PD_ERR_INPUT, "admm: the prior weight beta must be positive and finite (got %.6g)", beta);
  c->beta   = beta;
  d->msetup = PETSC_FALSE;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMSetCG(PdDecon d, PetscInt its, PetscBool precondition)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  PetscCheck(its >= 1, d->comm, PD_ERR_INPUT, "admm: the number of CG steps must be at least 1 (got %" PetscInt_FMT ")", its);
  c->cg_its = its;
  if (c->pc != precondition) d->msetup = PETSC_FALSE; /* the preconditioner's symbol is made at set-up */
  c->pc = precondition;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMSetAdaptive(PdDecon d, PetscBool adaptive, double mu, double tau)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  PetscCheck(mu <= 0 || (mu > 1 && isfinite(mu)), d->comm, PD_ERR_INPUT, "admm: adaptive mu must be > 1 (got %.6g)", mu);
  PetscCheck(tau <= 0 || (tau > 1 && isfinite(tau)), d->comm, PD_ERR_INPUT, "admm: adaptive tau must be > 1 (got %.6g)", tau);
  c->adaptive = adaptive;
  if (mu > 0) c->mu = mu;
  if (tau > 0) c->tau = tau;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMGetRho(PdDecon d, double *rho)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  *rho = c->rho_cur;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMGetResiduals(PdDecon d, double *primal, double *dual)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  if (primal) *primal = c->primal;
  if (dual) *dual = c->dual;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMGetResidualHistory(PdDecon d, PetscInt *n, const double **primal, const double **dual)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  if (n) *n = c->nh;
  if (primal) *primal = c->hp;
  if (dual) *dual = c->hd;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMSetCheckXUpdate(PdDecon d, PetscBool check)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  c->check = check;
  PetscFunctionReturn(0);
}

PetscErrorCode PdDeconADMMGetXUpdateResidual(PdDecon d, double *ratio)
{
  ADMMCtx *c;

  PetscFunctionBegin;
  PetscCall(Ctx(d, &c));
  *ratio = c->xres;
  PetscFunctionReturn(0);
}

PetscErrorCode PdADMMSetFromOptions(PdDecon d, PetscOptionItems *PetscOptionsObject)
{
  ADMMCtx  *c = (ADMMCtx *)d->mctx;
  double    v, mu = c->mu, tau = c->tau;
  PetscInt  its = c->cg_its;
  PetscBool set, ad = c->adaptive, pc = c->pc;

  PetscFunctionBegin;
  v = c->rho;
  PetscCall(PetscOptionsReal("-decon_admm_rho", "Penalty rho, in units of 1/mean(data) (starting value when adaptive)", "PdDeconADMMSetRho", v, &v, &set));
  if (set) PetscCall(PdDeconADMMSetRho(d, v));
  v = c->lambda;
  PetscCall(PetscOptionsReal("-decon_admm_lambda", "TV weight lambda in I-divergence + lambda TV(x)", "PdDeconADMMSetLambda", v, &v, &set));
  if (set) PetscCall(PdDeconADMMSetLambda(d, v));
  v = c->beta;
  PetscCall(PetscOptionsReal("-decon_admm_beta", "Penalty of the non-negativity and TV splittings relative to the data splitting's (1: one rho for all)", "PdDeconADMMSetPriorWeight", v, &v, &set));
  if (set) PetscCall(PdDeconADMMSetPriorWeight(d, v));
  PetscCall(PetscOptionsInt("-decon_admm_cg_its", "Conjugate-gradient steps per x-update (padded boundary)", "PdDeconADMMSetCG", its, &its, NULL));
  PetscCall(PetscOptionsBool("-decon_admm_cg_pc", "Precondition the CG x-update with the periodic (Fourier) solve", "PdDeconADMMSetCG", pc, &pc, NULL));
  PetscCall(PdDeconADMMSetCG(d, its, pc));
  PetscCall(PetscOptionsBool("-decon_admm_adaptive", "Adapt rho by residual balancing (Boyd et al. 2011, 3.4.1)", "PdDeconADMMSetAdaptive", ad, &ad, NULL));
  PetscCall(PetscOptionsReal("-decon_admm_adaptive_mu", "Residual ratio that triggers a change of rho", "PdDeconADMMSetAdaptive", mu, &mu, NULL));
  PetscCall(PetscOptionsReal("-decon_admm_adaptive_tau", "Factor rho changes by", "PdDeconADMMSetAdaptive", tau, &tau, NULL));
  PetscCall(PdDeconADMMSetAdaptive(d, ad, mu, tau));
  PetscCall(PetscOptionsBool("-decon_admm_monitor_residuals", "Print the primal and dual residuals and rho every iteration", "PdDeconADMMGetResiduals", c->monitor, &c->monitor, NULL));
  PetscCall(PetscOptionsBool("-decon_admm_check_xupdate", "Check the x-update against the explicit normal equations (diagnostic, costly)", "PdDeconADMMSetCheckXUpdate", c->check, &c->check, NULL));
  PetscFunctionReturn(0);
}

PetscErrorCode PdADMMView(PdDecon d, PetscViewer v)
{
  ADMMCtx *c = (ADMMCtx *)d->mctx;

  PetscFunctionBegin;
  PetscCall(PetscViewerASCIIPrintf(v, "admm: rho %.6g (units of 1/mean(data)), prior blocks beta rho (beta %.6g), TV lambda %.6g\n", c->rho, c->beta, c->lambda));
  if (d->boundary == PD_BOUNDARY_PERIODIC) PetscCall(PetscViewerASCIIPrintf(v, "admm: x-update exact (Fourier), periodic differences\n"));
  else PetscCall(PetscViewerASCIIPrintf(v, "admm: x-update %" PetscInt_FMT " %sCG step%s, Neumann differences\n", c->cg_its, c->pc ? "Fourier-preconditioned " : "", c->cg_its == 1 ? "" : "s"));
  if (c->adaptive) PetscCall(PetscViewerASCIIPrintf(v, "admm: adaptive rho (mu %.6g, tau %.6g), current %.6g\n", c->mu, c->tau, c->rho_cur));
  if (c->nh > 0) PetscCall(PetscViewerASCIIPrintf(v, "admm: last residuals primal %.4e dual %.4e\n", c->primal, c->dual));
  PetscFunctionReturn(0);
}
