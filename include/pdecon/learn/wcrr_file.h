/* Model files of the learned regulariser (PdWCRR, wcrr.h). */
#ifndef PDECON_WCRR_FILE_H
#define PDECON_WCRR_FILE_H

#include <pdecon/learn/wcrr.h>
#include <pdecon/io/io.h>

/* HDF5 model file, written atomically (collective on the model's communicator): root attributes
   of doubles "wcrr_channels" (3), "wcrr_sigma_max" (1) and θ as the array "wcrr_theta"
   (PdH5WriterAddArray: parts "wcrr_theta_0", "wcrr_theta_1", … of at most 4096 values). Load (collective on comm) names the file and the problem on any error (missing or
   wrongly sized entry, non-finite values): PD_ERR_FILE or PD_ERR_INPUT. */
PetscErrorCode PdWCRRLoad(MPI_Comm comm, const char *path, PdWCRR *m);
PetscErrorCode PdWCRRSave(PdWCRR m, const char *path);
/* Adds the model's datasets to an open writer (a training checkpoint is a model file too). */
PetscErrorCode PdWCRRWriterAdd(PdWCRR m, PdH5Writer w);

#endif
