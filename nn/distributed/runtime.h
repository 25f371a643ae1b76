// runtime.h — the MPI process group of data-parallel training and of the study
// spread over machines. Only apps linked with attnlab_distributed see this.
//
//   mpirun -np 4 build/apps/vit_train ...    # size() = 4, rank() = 0..3
//   build/apps/vit_train ...                 # size() = 1, rank() = 0, MPI untouched
//
// init() starts MPI only when an MPI launcher (mpirun, srun --mpi=pmix) started
// this process, so a plain run needs no MPI daemon. Only the main thread calls
// MPI (MPI_THREAD_FUNNELED); OpenMP threads and the DataLoader's worker never do.
#pragma once
#include <cstddef>

namespace attnlab::distributed {

// Starts MPI when launched by mpirun/srun; safe to call once per process.
void init(int& argc, char**& argv);
// Ends MPI (after every rank got here). No-op without MPI.
void finalize();
// Ends every process of the job at once with `exit_code` (MPI_Abort); without MPI, std::exit.
[[noreturn]] void abort_all(int exit_code);

bool active();  // init() started MPI
int rank();     // 0 .. size()-1
int size();     // number of processes P
int local_size();  // processes of this job on this machine (1 without MPI)

// Waits until every process got here.
void barrier();

// Splitting independent jobs (the study's (variant, seed) runs) over the processes:
// job i runs on rank i % P, each rank running its jobs one process-local run at a time.
bool owns_job(size_t job_index);

}  // namespace attnlab::distributed
