// The troupe executable: the command line with the built-in kinds.
#include <troupe/cli.hpp>

int main(int argc, char** argv) { return troupe::cli::main(argc, argv); }
