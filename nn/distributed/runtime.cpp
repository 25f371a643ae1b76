// runtime.cpp — MPI start-up, rank/size, barrier and abort (see runtime.h).
#include "nn/distributed/runtime.h"

#include <mpi.h>

#include <cstdio>
#include <cstdlib>

#include "core/util/error.h"

namespace attnlab::distributed {

static bool g_active = false;
static int g_rank = 0, g_size = 1, g_local_size = 1;

// Variables the launchers set: Open MPI's mpirun, PMIx (Open MPI 4, srun --mpi=pmix), PMI (MPICH, srun --mpi=pmi2).
static bool launched_by_mpi() {
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK", "PMI_SIZE"})
        if (std::getenv(name)) return true;
    return false;
}

void init(int& argc, char**& argv) {
    if (g_active || !launched_by_mpi()) return;
    int provided = 0;
    check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS, "MPI_Init_thread failed");
    check(provided >= MPI_THREAD_FUNNELED, "MPI: the library does not support MPI_THREAD_FUNNELED");
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;  // the ranks sharing this machine's memory
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node);
    MPI_Comm_size(node, &g_local_size);
    MPI_Comm_free(&node);
    g_active = true;
}

void finalize() {
    if (!g_active) return;
    MPI_Finalize();
    g_active = false;
}

void abort_all(int exit_code) {
    std::fflush(stdout);
    std::fflush(stderr);
    if (g_active) MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::exit(exit_code);
}

bool active() { return g_active; }
int rank() { return g_rank; }
int size() { return g_size; }
int local_size() { return g_local_size; }

void barrier() {
    if (g_active) MPI_Barrier(MPI_COMM_WORLD);
}

bool owns_job(size_t job_index) { return job_index % size_t(g_size) == size_t(g_rank); }

}  // namespace attnlab::distributed
