/**
 * Logical ids: the CDK app pins every resource to the logical id the SAM template uses (or SAM's
 * transform generates), so the two templates can be compared resource by resource, the emulator
 * and the tests see one naming, and switching a stack between SAM and CDK does not replace data.
 */
import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** Gives a construct's CloudFormation resource (an L1, or an L2's default child) a fixed id. */
export function pin<T extends IConstruct>(construct: T, logicalId: string): T {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`${construct.node.path} has no CloudFormation resource to pin as ${logicalId}`);
  }
  resource.overrideLogicalId(logicalId);
  return construct;
}
