/* Stop rules that need no truth (docs/methods/stop_rule.md): when to end an iterative
   deconvolution from the iterates and the data alone.

     change       ||x_{k+1} - x_k|| / ||x_k|| < tol                     (returns x_{k+1})
     discrepancy  D(x_k) <= tol, the Poisson deviance per voxel in photons (returns x_k)
     deviance     D(x_k) > (1 - tol) D(x_{k-1}): the deviance stopped decreasing (returns x_k)
     change_rise  c_{k+1} > (1 + tol) c_k once c_k < c_1 / 2, c_k the relative change of step k:
                  the iteration stopped settling (returns x_{k+1})

   D(x) = 2/N Σ_M [ y log(y / μ) − (y − μ) ] / g,  μ = H x + b, N the voxels of the measured box
   M, g the gain (data units per photon, -decon_stop_gain). For Poisson counts E[D] ≈ 1.
   The deviance of x_k is known once the step from x_k has formed H x_k, that is after x_{k+1} was
   computed: the rules on D keep the image box of x_k (one box volume) to return it. */
#ifndef PDECON_STOP_RULE_H
#define PDECON_STOP_RULE_H

#include <pdecon/decon/decon.h>

typedef enum { PD_STOP_RULE_NONE, PD_STOP_RULE_CHANGE, PD_STOP_RULE_DISCREPANCY, PD_STOP_RULE_DEVIANCE, PD_STOP_RULE_CHANGE_RISE } PdStopRuleType;
extern const char *const PdStopRuleTypes[];

/* The rule and its tolerance (tol < 0: the rule's default: change 1e-3, discrepancy 1,
   deviance 1e-2, change_rise 0). Without a call (or -decon_stop_rule) a method's own default
   applies when no iteration count was asked for (rl_wb, rl_omw: change_rise), none otherwise.
   With a rule and no iteration count asked for, the iteration limit is the method's default
   but at least PD_STOP_RULE_MAX_IT. */
#define PD_STOP_RULE_MAX_IT 20
PetscErrorCode PdDeconSetStopRule(PdDecon d, PdStopRuleType rule, double tol);
/* Data units per photon of the data (1: photon counts); the deviance is taken in photons. */
PetscErrorCode PdDeconSetStopGain(PdDecon d, double gain);
/* The rule the last solve used, its tolerance, and the value that stopped it (NaN: not stopped
   by the rule). */
PetscErrorCode PdDeconGetStopRule(PdDecon d, PdStopRuleType *rule, double *tol, double *value);

#endif
