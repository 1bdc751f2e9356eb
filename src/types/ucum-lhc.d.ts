declare module '@lhncbc/ucum-lhc';
