/* Switch-dispatch bytecode interpreter: a tiny stack VM (compiled by gcc to
 * a jump table) running a program that loops n times over a Fibonacci-style
 * recurrence with xor/shift mixing and a conditional. */
#include "workload.h"

enum op {
    OP_PUSH, /* push the next code word */
    OP_LOAD, /* push locals[next] */
    OP_STORE, /* locals[next] = pop */
    OP_ADD,
    OP_SUB,
    OP_MUL,
    OP_XOR,
    OP_SHR, /* a >> (b & 63) */
    OP_AND,
    OP_LT, /* push a < b */
    OP_DUP,
    OP_POP,
    OP_JZ, /* if pop == 0 goto next */
    OP_JMP, /* goto next */
    OP_HALT, /* return pop */
};

enum { I, N, A, B, ACC, NLOCALS };

static long program[] = {
    /* 0: i = 0; a = 0; b = 1; acc = 0 */
    OP_PUSH, 0, OP_STORE, I,
    OP_PUSH, 0, OP_STORE, A,
    OP_PUSH, 1, OP_STORE, B,
    OP_PUSH, 0, OP_STORE, ACC,
    /* 16: loop: while (i < n) */
    OP_LOAD, I, OP_LOAD, N, OP_LT, OP_JZ, 75,
    /* 23: t = a + b; a = b; b = t ^ (i >> 1) */
    OP_LOAD, A, OP_LOAD, B, OP_ADD,
    OP_LOAD, B, OP_STORE, A,
    OP_LOAD, I, OP_PUSH, 1, OP_SHR, OP_XOR, OP_STORE, B,
    /* 40: if (b & 1) acc = acc - b; else acc = acc * 3 + b */
    OP_LOAD, B, OP_PUSH, 1, OP_AND, OP_JZ, 54,
    /* 47: */
    OP_LOAD, ACC, OP_LOAD, B, OP_SUB, OP_JMP, 62,
    /* 54: */
    OP_LOAD, ACC, OP_PUSH, 3, OP_MUL, OP_LOAD, B, OP_ADD,
    /* 62: join */
    OP_DUP, OP_STORE, ACC, OP_POP,
    /* 66: i = i + 1 */
    OP_LOAD, I, OP_PUSH, 1, OP_ADD, OP_STORE, I,
    OP_JMP, 16,
    /* 75: end */
    OP_LOAD, ACC, OP_HALT,
};

__attribute__((noinline)) static long interpret(const long *code, long n)
{
    long stack[64];
    long locals[NLOCALS] = { 0 };
    long sp = 0;
    long pc = 0;
    locals[N] = n;
    for (;;) {
        long a, b;
        switch (code[pc++]) {
        case OP_PUSH: stack[sp++] = code[pc++]; break;
        case OP_LOAD: stack[sp++] = locals[code[pc++]]; break;
        case OP_STORE: locals[code[pc++]] = stack[--sp]; break;
        case OP_ADD: b = stack[--sp]; a = stack[--sp]; stack[sp++] = (long)((u64)a + (u64)b); break;
        case OP_SUB: b = stack[--sp]; a = stack[--sp]; stack[sp++] = (long)((u64)a - (u64)b); break;
        case OP_MUL: b = stack[--sp]; a = stack[--sp]; stack[sp++] = (long)((u64)a * (u64)b); break;
        case OP_XOR: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a ^ b; break;
        case OP_SHR: b = stack[--sp]; a = stack[--sp]; stack[sp++] = (long)((u64)a >> (b & 63)); break;
        case OP_AND: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a & b; break;
        case OP_LT: b = stack[--sp]; a = stack[--sp]; stack[sp++] = a < b; break;
        case OP_DUP: a = stack[sp - 1]; stack[sp++] = a; break;
        case OP_POP: sp--; break;
        case OP_JZ: a = stack[--sp]; pc = a == 0 ? code[pc] : pc + 1; break;
        case OP_JMP: pc = code[pc]; break;
        case OP_HALT: return stack[--sp];
        default: return -1;
        }
    }
}

long run(long n)
{
    return interpret(program, n);
}
