/*
 * hlf_namespace.h - the runtime's names.  Every runtime header includes it
 * before anything else.
 *
 * This copy (the source tree's) is empty: the runtime compiled on its own
 * keeps its hlf_* names.  A generated project holds its own copy, written by
 * hlfgen (hlfgen/namespace.py), that #defines every hlf_* identifier of the
 * runtime to a name prefixed with the model's, so several generated models
 * link into one program.
 */
#ifndef HLF_NAMESPACE_H
#define HLF_NAMESPACE_H
#endif /* HLF_NAMESPACE_H */
