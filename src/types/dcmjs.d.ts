// dcmjs ships no types (and @types/dcmjs does not exist): the few functions OsteoWatch uses.
declare module 'dcmjs' {
  type Dataset = Record<string, unknown>;
  interface DicomDictInstance {
    meta: Dataset;
    dict: Dataset;
    write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
  }
  const dcmjs: {
    data: {
      DicomMessage: {
        readFile(buffer: ArrayBuffer, options?: { ignoreErrors?: boolean; untilTag?: string }): DicomDictInstance;
      };
      DicomMetaDictionary: {
        naturalizeDataset(dict: Dataset): Dataset;
        denaturalizeDataset(dataset: Dataset): Dataset;
        uid(): string;
      };
      datasetToBuffer(dataset: Dataset): Buffer;
    };
  };
  export default dcmjs;
}
