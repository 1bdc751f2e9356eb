/**
 * A DICOM C-STORE SCP (dcmjs-dimse) so that a PACS or an AI node can push its TID 1500 osteonecrosis reports:
 * each stored SR or SEG is read (fromDicom.ts) and written back like a posted findings document. Bound to the
 * configured host (loopback by default). A report we cannot understand is refused with a DICOM failure status
 * and a comment.
 */
import net from 'node:net';
import dcmjsDimse from 'dcmjs-dimse';
import { OsteoWatchError } from '../errors.ts';
import { type Dataset, MR_CLASSES, SEG_SOP_CLASS, SR_CLASSES } from './dicom.ts';
import type { FindingsDocument } from './findingsDocument.ts';
import { findingsFromDicom } from './fromDicom.ts';

const { Scp } = dcmjsDimse;
const { CEchoResponse, CStoreResponse } = dcmjsDimse.responses;
const { Status, PresentationContextResult, RejectResult, RejectSource, RejectReason, TransferSyntax, SopClass } =
  dcmjsDimse.constants;

const CANNOT_UNDERSTAND = 0xc000;

/**
 * Source MR images kept for a while, so that a SEG that segments only the femoral head can be graded on
 * them when it arrives after its series (a PACS sends the series, then the SEG). Bounded, oldest first out.
 */
export class SourceImageCache implements ReadonlyMap<string, Dataset> {
  private readonly map = new Map<string, Dataset>();
  private readonly max: number;
  constructor(max = 5000) {
    this.max = max;
  }
  put(ds: Dataset): void {
    const uid = String(ds.SOPInstanceUID);
    this.map.delete(uid);
    this.map.set(uid, ds);
    while (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
  get(k: string) {
    return this.map.get(k);
  }
  has(k: string) {
    return this.map.has(k);
  }
  get size() {
    return this.map.size;
  }
  forEach(cb: (v: Dataset, k: string, m: ReadonlyMap<string, Dataset>) => void) {
    for (const [k, v] of this.map) cb(v, k, this);
  }
  entries() {
    return this.map.entries();
  }
  keys() {
    return this.map.keys();
  }
  values() {
    return this.map.values();
  }
  [Symbol.iterator]() {
    return this.map[Symbol.iterator]();
  }
}

export interface DicomReceiverOptions {
  port: number;
  host: string;
  aeTitle: string;
  /** Calling AE titles allowed to store (empty: any). */
  callingAeTitles?: string[];
  /** Writes one report; throws to refuse it. */
  onReport: (doc: FindingsDocument) => Promise<void>;
  onError?: (message: string) => void;
}

export interface DicomReceiver {
  port: number;
  close(): Promise<void>;
}

export async function startDicomReceiver(o: DicomReceiverOptions): Promise<DicomReceiver> {
  const sources = new SourceImageCache();
  class OsteoWatchScp extends Scp {
    override associationRequested(association: dcmjsDimse.association.Association): void {
      if (association.getCalledAeTitle() !== o.aeTitle) {
        this.sendAssociationReject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CalledAeNotRecognized,
        );
        return;
      }
      if (o.callingAeTitles?.length && !o.callingAeTitles.includes(association.getCallingAeTitle())) {
        this.sendAssociationReject(
          RejectResult.Permanent,
          RejectSource.ServiceUser,
          RejectReason.CallingAeNotRecognized,
        );
        return;
      }
      for (const c of association.getPresentationContexts()) {
        const context = association.getPresentationContext(c.id);
        const abstract = context.getAbstractSyntaxUid();
        if (
          abstract !== SopClass.Verification &&
          !SR_CLASSES.has(abstract) &&
          abstract !== SEG_SOP_CLASS &&
          !MR_CLASSES.has(abstract)
        ) {
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        const ts = context
          .getTransferSyntaxUids()
          .find((t) => t === TransferSyntax.ExplicitVRLittleEndian || t === TransferSyntax.ImplicitVRLittleEndian);
        if (ts) context.setResult(PresentationContextResult.Accept, ts);
        else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
      }
      this.sendAssociationAccept();
    }

    override cEchoRequest(
      request: dcmjsDimse.requests.CEchoRequest,
      callback: (r: dcmjsDimse.responses.CEchoResponse) => void,
    ): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(Status.Success);
      callback(response);
    }

    override cStoreRequest(
      request: dcmjsDimse.requests.CStoreRequest,
      callback: (r: dcmjsDimse.responses.CStoreResponse) => void,
    ): void {
      const response = CStoreResponse.fromRequest(request);
      const reply = (status: number, comment?: string) => {
        response.setStatus(status);
        if (comment) response.setErrorComment?.(comment.slice(0, 64));
        callback(response);
      };
      const refuse = (err: unknown) => {
        // Our refusals say what is wrong with the object; anything else is dcmjs failing to read it.
        const message = err instanceof OsteoWatchError ? err.message : `unreadable report: ${(err as Error).message}`;
        o.onError?.(message);
        reply(CANNOT_UNDERSTAND, message);
      };
      let elements: Dataset;
      try {
        elements = request.getDataset()!.getElements();
      } catch (err) {
        refuse(err);
        return;
      }
      // Source images are kept, not read: a head-only SEG arriving after its series is graded on them.
      if (MR_CLASSES.has(String(elements.SOPClassUID))) {
        sources.put(elements);
        reply(Status.Success);
        return;
      }
      findingsFromDicom(elements, sources).then(
        (doc) =>
          o.onReport(doc).then(
            () => reply(Status.Success),
            (err: Error) => {
              o.onError?.(err.message);
              reply(Status.ProcessingFailure, err.message);
            },
          ),
        refuse,
      );
    }

    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }

    // The peer aborted: nothing to clean up (each store is already written or refused).
    override abort(): void {}
  }

  // dcmjs-dimse's Server listens on every interface; a plain net.Server lets us choose the address.
  const server = net.createServer((socket) => {
    new OsteoWatchScp(socket, {});
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, o.host, () => resolve());
  });
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
