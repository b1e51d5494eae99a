/*
 * hlf_namespace.h - the runtime's names.  Every runtime header includes it
 * before anything else.
 *
 * This copy (the source tree's) defines only HLF_NS: the runtime compiled on
 * its own keeps its hlf_* names.  A generated project holds its own copy, written by
 * hlfgen (hlfgen/namespace.py), that #defines every hlf_* identifier of the
 * runtime to hlf_<id>_<variant>_<name>: <id> hashes the runtime's sources and
 * panel width, <variant> is the kernel set.  Models generated with the same
 * runtime share its objects; runtimes that differ differ in every name, so
 * any generated models link into one program.
 */
#ifndef HLF_NAMESPACE_H
#define HLF_NAMESPACE_H

/* HLF_NS(x): the runtime's name for x (here hlf_x), for names made by token
 * pasting, which a generated project's copy cannot see: HLF_NS(f32_foo_16x1__avx2). */
#define HLF_NS_CAT_(a, b) a##b
#define HLF_NS_CAT(a, b) HLF_NS_CAT_(a, b)
#define HLF_NS(x) HLF_NS_CAT(hlf_, x)

#endif /* HLF_NAMESPACE_H */
