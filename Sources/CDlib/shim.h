// dlib is C++ and used only from CFaceBridge; this module exists to carry pkg-config's dlib-1 link flags
// (dlib plus the BLAS/LAPACK its headers call into).
