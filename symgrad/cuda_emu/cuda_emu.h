// symgrad's host emulation of the CUDA built-ins its generated kernels use.
//
// A kernel source compiled with a C++20 compiler after this header runs on the CPU with CUDA's
// semantics: blocks run one after another; the threads of a block are fibers (ucontext) on one
// host thread, each with its own stack, and __syncthreads suspends a fiber until every thread
// of the block has reached it. Shared memory, the block reductions and their fixed order behave
// as on a GPU; a barrier that not every thread of a block reaches is reported as an error.
// Launches go through sg_emu::launch with an array of pointers to the arguments, like
// cuLaunchKernel's kernelParams.

#pragma once

#include <ucontext.h>

#include <cmath>
#include <cstddef>
#include <functional>
#include <math.h>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
// one copy per kernel function, shared by the threads of the one block that runs at a time
#define __shared__ static

struct sg_emu_dim3 {
    unsigned x, y, z;
};

// set by the scheduler before it resumes a fiber
inline sg_emu_dim3 threadIdx{0, 0, 0};
inline sg_emu_dim3 blockIdx{0, 0, 0};
inline sg_emu_dim3 blockDim{1, 1, 1};
inline sg_emu_dim3 gridDim{1, 1, 1};

namespace sg_emu {
constexpr std::size_t STACK_BYTES = 256 * 1024;

struct Fiber {
    ucontext_t context;
    std::vector<char> stack = std::vector<char>(STACK_BYTES);
    bool done = false;
};

inline ucontext_t scheduler;
inline Fiber* current = nullptr;
inline std::function<void()> task;

inline void run_fiber() {
    task();
    current->done = true;  // returning resumes the scheduler (uc_link)
}

template <class... P, std::size_t... I>
std::tuple<std::decay_t<P>...> unpack(void** args, std::index_sequence<I...>) {
    return {*static_cast<std::decay_t<P>*>(args[I])...};
}

// Run kernel on a grid of `grid` blocks of `block` threads; args[k] points to argument k.
// Returns 0, or 1 when some threads of a block waited at __syncthreads while others returned.
template <class... P>
int launch(unsigned grid, unsigned block, void (*kernel)(P...), void** args) {
    const auto values = unpack<P...>(args, std::index_sequence_for<P...>{});
    task = [&values, kernel] { std::apply(kernel, values); };
    gridDim = {grid, 1, 1};
    blockDim = {block, 1, 1};
    std::vector<Fiber> fibers(block);
    for (unsigned b = 0; b < grid; ++b) {
        blockIdx = {b, 0, 0};
        for (auto& fiber : fibers) {
            fiber.done = false;
            getcontext(&fiber.context);
            fiber.context.uc_stack.ss_sp = fiber.stack.data();
            fiber.context.uc_stack.ss_size = fiber.stack.size();
            fiber.context.uc_link = &scheduler;
            makecontext(&fiber.context, run_fiber, 0);
        }
        for (unsigned remaining = block; remaining > 0;) {  // one barrier phase per round
            unsigned waiting = 0, returned = 0;
            for (unsigned t = 0; t < block; ++t) {
                if (fibers[t].done) continue;
                threadIdx = {t, 0, 0};
                current = &fibers[t];
                swapcontext(&scheduler, &fibers[t].context);
                if (fibers[t].done) {
                    ++returned;
                } else {
                    ++waiting;
                }
            }
            if (waiting && returned) return 1;  // on a GPU: a hang or undefined behaviour
            remaining -= returned;
        }
    }
    return 0;
}
}  // namespace sg_emu

inline void __syncthreads() {
    sg_emu::Fiber* self = sg_emu::current;
    swapcontext(&self->context, &sg_emu::scheduler);
}

template <class T>
T atomicAdd(T* address, T value) {  // fibers never interleave inside this function
    const T old = *address;
    *address = old + value;
    return old;
}
