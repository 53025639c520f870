#ifndef CGRAD_TOOLS_QUANTIZE_H
#define CGRAD_TOOLS_QUANTIZE_H
/* cgrad quantize IN.gguf OUT.gguf TYPE: argv after the word "quantize" */
int cmd_quantize(int argc, char **argv);
#endif
